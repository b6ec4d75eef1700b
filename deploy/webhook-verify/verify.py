"""Verifies an mprtc-server webhook: `verify` is the README's five-line example; the rest lets
the server's tests (and you) run it: MPRTC_WEBHOOK_SECRET=... python3 verify.py TIMESTAMP
SIGNATURE < body.json exits 0 when the signature is good and recent, 1 otherwise."""
import hashlib, hmac, os, sys, time

def verify(secret: bytes, timestamp: str, signature: str, body: bytes) -> bool:
    if abs(time.time() - int(timestamp)) > 300:
        return False  # replayed or stale
    mac = hmac.new(secret, timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest("v1=" + mac, signature)

if __name__ == "__main__":
    ok = verify(os.environ.get("MPRTC_WEBHOOK_SECRET", "").encode(), sys.argv[1], sys.argv[2], sys.stdin.buffer.read())
    print("valid" if ok else "invalid")
    sys.exit(0 if ok else 1)
