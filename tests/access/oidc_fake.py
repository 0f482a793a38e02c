"""A small OpenID Connect provider on loopback: discovery, JWKS and the token endpoint.

The test plays the browser: it reads warroom's redirect to `/authorize` (state, nonce, PKCE
challenge), picks a code, tells the provider what the ID token for that code says, and calls
warroom's callback with it; warroom (authlib) then redeems the code at `/token` over HTTP.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import socket
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

import uvicorn
from joserfc import jwt
from joserfc.jwk import RSAKey
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

CLIENT_ID = "warroom"
CLIENT_SECRET = "s3cret"


@dataclass
class FakeProvider:
    url: str = ""
    key: RSAKey = field(default_factory=lambda: RSAKey.generate_key(2048, parameters={"kid": "k1"}))
    # code -> (claims of the ID token, PKCE challenge it was issued for)
    codes: dict[str, tuple[dict[str, Any], str]] = field(default_factory=dict)
    token_requests: list[dict[str, str]] = field(default_factory=list)
    signing_key: RSAKey | None = None  # sign with another key than the published one

    def issue(self, code: str, *, nonce: str, challenge: str, **claims: Any) -> None:
        """Make `code` redeemable for an ID token with these claims (and sane defaults)."""
        now = int(time.time())
        base = {"iss": self.url, "aud": CLIENT_ID, "sub": "user-1", "iat": now,
                "exp": now + 300, "nonce": nonce}
        self.codes[code] = ({**base, **claims}, challenge)

    def app(self) -> Starlette:
        async def discovery(_: Request) -> JSONResponse:
            return JSONResponse({
                "issuer": self.url, "authorization_endpoint": f"{self.url}/authorize",
                "token_endpoint": f"{self.url}/token", "jwks_uri": f"{self.url}/jwks",
                "response_types_supported": ["code"], "subject_types_supported": ["public"],
                "id_token_signing_alg_values_supported": ["RS256"],
                "code_challenge_methods_supported": ["S256"],
            })

        async def jwks(_: Request) -> JSONResponse:
            return JSONResponse({"keys": [self.key.as_dict(private=False)]})

        async def token(request: Request) -> JSONResponse:
            form = {k: v[0] for k, v in parse_qs((await request.body()).decode()).items()}
            self.token_requests.append(form)
            found = self.codes.pop(form.get("code", ""), None)
            if found is None:
                return JSONResponse({"error": "invalid_grant"}, status_code=400)
            claims, challenge = found
            verifier = form.get("code_verifier", "")
            digest = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
            if digest.rstrip(b"=").decode() != challenge:
                return JSONResponse({"error": "invalid_grant", "error_description": "PKCE"},
                                    status_code=400)
            key = self.signing_key or self.key
            id_token = jwt.encode({"alg": "RS256", "kid": "k1"}, claims, key)
            return JSONResponse({"access_token": "at-1", "token_type": "Bearer",
                                 "expires_in": 300, "id_token": id_token})

        return Starlette(routes=[
            Route("/.well-known/openid-configuration", discovery),
            Route("/jwks", jwks), Route("/token", token, methods=["POST"]),
        ])


@asynccontextmanager
async def fake_provider() -> AsyncIterator[FakeProvider]:
    """Serve a fake provider on a free loopback port for the duration of the context."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    provider = FakeProvider(url=f"http://127.0.0.1:{sock.getsockname()[1]}")
    server = uvicorn.Server(uvicorn.Config(provider.app(), log_level="warning"))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        while not server.started:
            await asyncio.sleep(0.02)
        yield provider
    finally:
        server.should_exit = True
        await task
        sock.close()
