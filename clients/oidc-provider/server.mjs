// A real OpenID Connect provider (panva's oidc-provider) for the tests: machine clients get
// JWT access tokens for the audience `ishc-api` with the platform's role and scope in
// `ishc_*` claims, as a Keycloak realm would be configured to give them.
import { exportJWK, generateKeyPair } from "jose";
import Provider from "oidc-provider";

const port = Number(process.env.PORT);
const issuer = `http://127.0.0.1:${port}`;
const AUDIENCE = "ishc-api";
const RESOURCE = "urn:ishc:api";

// What each test client's tokens say about its holder.
const CLAIMS = {
  "officer-lao-cai": { ishc_role: "officer", ishc_provinces: ["15"] },
  "no-role": {},
  "claims-service": { ishc_role: "service" },
  "other-audience": { ishc_role: "admin" },
};

const { privateKey } = await generateKeyPair("RS256", { extractable: true });
const key = { ...(await exportJWK(privateKey)), kid: "test-oidc-key", alg: "RS256", use: "sig" };

const provider = new Provider(issuer, {
  clients: Object.keys(CLAIMS).map((clientId) => ({
    client_id: clientId,
    client_secret: `secret-${clientId}`,
    grant_types: ["client_credentials"],
    redirect_uris: [],
    response_types: [],
    token_endpoint_auth_method: "client_secret_post",
  })),
  jwks: { keys: [key] },
  features: {
    devInteractions: { enabled: false },
    clientCredentials: { enabled: true },
    resourceIndicators: {
      enabled: true,
      defaultResource: () => RESOURCE,
      useGrantedResource: () => true,
      getResourceServerInfo: (ctx, resource, client) => ({
        scope: "",
        audience: client.clientId === "other-audience" ? "another-api" : AUDIENCE,
        accessTokenFormat: "jwt",
        jwt: { sign: { alg: "RS256" } },
      }),
    },
  },
  ttl: { ClientCredentials: 600 },
  extraTokenClaims: (ctx, token) => CLAIMS[token.clientId] ?? {},
});

provider.listen(port, "127.0.0.1", () => console.log(`oidc-provider at ${issuer}`));
