"""The recruitment dashboard, one module per area: channels (list, editor, page, pause, QR codes and posters) and
referrals (rules and leaderboard). `words` says how a channel reads; `printing` makes its QR codes and poster, for
recruitment.apis too."""
