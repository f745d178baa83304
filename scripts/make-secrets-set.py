#!/usr/bin/env python3
"""Writes tests/guardrails/secrets.jsonl: a labelled set for the secrets detector (there is no shared one).

Positives: fake credentials in the known formats (random characters from a fixed seed, so the file is
reproducible and nothing in it is a real key), embedded in the kinds of text they leak in (config files,
shell commands, chat messages, stack traces). Negatives: ordinary code and text that looks key-like —
hashes, UUIDs, commit ids, base64 data, environment-variable lookups, placeholders — marked
`hard_negative`. Rows: {"id", "text", "label" (1 secret, 0 not), "attack_type" (the secret type or
"benign"), "source": "warden-synthetic", "hard_negative"}.

    python3 scripts/make-secrets-set.py
"""
import json, random, string
from pathlib import Path

rng = random.Random(20261130)
A = string.ascii_letters + string.digits


def r(n, alphabet=A):
    return "".join(rng.choice(alphabet) for _ in range(n))


def b64url(n):
    return r(n, string.ascii_letters + string.digits + "-_")


secrets = {
    "AWS_ACCESS_KEY": lambda: "AKIA" + r(16, string.ascii_uppercase + string.digits),
    "GITHUB_TOKEN": lambda: "ghp_" + r(36),
    "SLACK_TOKEN": lambda: "xoxb-" + r(11, string.digits) + "-" + r(12, string.digits) + "-" + r(24),
    "STRIPE_KEY": lambda: "sk_live_" + r(24),
    "OPENAI_API_KEY": lambda: "sk-proj-" + b64url(48),
    "ANTHROPIC_API_KEY": lambda: "sk-ant-api03-" + b64url(80),
    "GCP_API_KEY": lambda: "AIza" + b64url(35),
    "JWT": lambda: "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9." + b64url(40) + "." + b64url(43),
    "GENERIC_SECRET": lambda: r(32),
    "PRIVATE_KEY": lambda: "-----BEGIN RSA PRIVATE KEY-----\n" + "\n".join(r(64, A + "+/") for _ in range(4)) + "\n-----END RSA PRIVATE KEY-----",
}
contexts = [
    "export {name}={value}", "{name} = \"{value}\"", "Here is my key: {value} can you check why it fails?",
    "curl -H 'Authorization: Bearer {value}' https://api.example.com/v1", "config:\n  api_key: {value}\n  region: us-east-1",
    "Traceback: AuthError: invalid credentials ({value})", "{{\"token\": \"{value}\", \"user\": \"ana\"}}",
]
names = {"GENERIC_SECRET": ["api_key", "secret", "password", "auth_token"]}

rows = []
for type_, make in secrets.items():
    for i in range(12):
        value = make()
        ctx = contexts[i % len(contexts)]
        if type_ == "GENERIC_SECRET":
            name = names[type_][i % 4]
            text = rng.choice(["{name} = \"{value}\"", "{name}: {value}", "export {name}={value}", "{{\"{name}\": \"{value}\"}}"]).format(name=name, value=value)
        else:
            text = ctx.format(name="KEY", value=value)
        rows.append({"text": text, "label": 1, "attack_type": type_, "hard_negative": False})

negatives = [
    "sha256: " + r(64, "0123456789abcdef"), "commit " + r(40, "0123456789abcdef") + " fixes the login bug",
    "request id 3f2c1e9a-7b4d-4e8f-9a1b-2c3d4e5f6a7b failed", "api_key = os.environ[\"OPENAI_API_KEY\"]",
    "Set OPENAI_API_KEY in your shell, e.g. export OPENAI_API_KEY=sk-...", "password = getpass.getpass()",
    "token = request.headers.get('Authorization')", "The key skipped the lock, so sk-8 was the model name.",
    "data:image/png;base64," + r(60, A + "+/") + "==", "docker pull ghcr.io/acme/api@sha256:" + r(64, "0123456789abcdef"),
    "See https://example.com/reset?token=YOUR_TOKEN_HERE", "secret_name: prod-db-credentials",
    "The AKIA prefix marks AWS access keys; never paste one here.", "eyJ is how base64-encoded JSON starts.",
    "def rotate(key: str) -> str:\n    return hashlib.sha256(key.encode()).hexdigest()", "SELECT id, api_key_hash FROM keys WHERE team = 'ml';",
    "-----BEGIN CERTIFICATE-----\nMIIB" + r(40, A) + "\n-----END CERTIFICATE-----", "The password policy requires 12 characters.",
    "Use `openssl rand -hex 32` to generate a secret.", "stripe.api_key = settings.STRIPE_SECRET_KEY",
    "user_id = 'usr_" + r(14) + "'", "git clone git@github.com:acme/warden.git", "The ticket number is TKT-" + r(8, string.digits),
    "uuid: " + "-".join(r(n, "0123456789abcdef") for n in (8, 4, 4, 4, 12)), "auth: oauth2 (see docs)",
    "token_count = 4096", "Bearer tokens expire after one hour.", "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI" + r(40, A + "+/") + " ana@laptop",
    "session = requests.Session()  # reuse the connection", "key = cache_key(user, model)",
]
for text in negatives:
    rows.append({"text": text, "label": 0, "attack_type": "benign", "hard_negative": True})
for i, row in enumerate(rows):
    row["id"] = f"secret-{i:03d}"
    row["source"] = "warden-synthetic"
out = Path(__file__).resolve().parents[1] / "tests/guardrails/secrets.jsonl"
out.write_text("".join(json.dumps(r) + "\n" for r in rows))
print(f"{out}: {sum(r['label'] for r in rows)} positives, {sum(1 - r['label'] for r in rows)} negatives")
