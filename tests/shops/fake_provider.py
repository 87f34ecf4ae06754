"""A fake message provider: a real HTTP server on 127.0.0.1 in a thread, speaking the `http` protocol of
shops.messaging, for the SMS and push backend tests (the process boundary is real, nothing is patched)."""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class FakeProvider:
    """Answers each POST with the next status of `statuses` (then 200), recording what it received. A POST to
    `batch_url` is answered with a result per message (`results=False`: an empty body), refusing the phones and
    tokens in `refused`. `delivered` keeps each message id once, as a provider that honours the deduplication key;
    a POST to `status_url` answers "sent" for the ids it delivered and leaves the others out."""

    def __init__(self, statuses=(), refused=(), results=True):
        self.statuses = list(statuses)
        self.refused = set(refused)
        self.results = results
        self.received: list[dict] = []
        self.delivered: dict[str, dict] = {}
        provider = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                provider.received.append({"path": self.path, "body": body, "headers": dict(self.headers)})
                status = provider.statuses.pop(0) if provider.statuses else 200
                answer = b""
                if status == 200:
                    status, answer = provider.answer(self.path, body)
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        base = f"http://127.0.0.1:{self.server.server_port}"
        self.url, self.batch_url, self.status_url = f"{base}/send", f"{base}/batch", f"{base}/status"

    def answer(self, path: str, body: bytes) -> tuple[int, bytes]:
        """A batch: 200 with a result per message. One message: 200, or 400 when refused."""
        payload = json.loads(body)
        if path == "/status":  # what it delivered is "sent"; the ids it never took are left out
            found = [{"message_id": i, "status": "sent"} for i in payload["message_ids"] if i in self.delivered]
            return 200, json.dumps({"results": found}).encode()
        messages = payload["messages"] if path == "/batch" else [payload]
        results = []
        for message in messages:
            if (message.get("phone") or message.get("token")) in self.refused:
                results.append({"message_id": message["message_id"], "status": "failed", "error": "unknown number"})
            else:
                self.delivered.setdefault(message["message_id"], message)
                results.append({"message_id": message["message_id"], "status": "sent"})
        if path != "/batch":
            return (400, b"unknown number") if results[0]["status"] == "failed" else (200, b"")
        return 200, json.dumps({"results": results}).encode() if self.results else b""

    def bodies(self) -> list:
        return [json.loads(r["body"]) for r in self.received]

    def __enter__(self):
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()
