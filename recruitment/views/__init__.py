"""The recruitment dashboard, one module per area: channels (list, editor, page, pause, QR codes and posters) and
referrals (rules and leaderboard). `words` and `printing` are shared with recruitment.apis."""
