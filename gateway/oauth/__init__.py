"""OAuth 2.0 for browser and mobile apps: the authorization code with PKCE through the gateway's
login page, rotating refresh tokens, revocation and the server's metadata."""
