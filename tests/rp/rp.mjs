// A real OpenID Connect relying party (openid-client 6.x), driven by tests/oidc/test_relying_party.py.
//
// Protocol (one JSON object per line):
//   argv[2]  JSON {issuer, client_id, client_secret, redirect_uri, post_logout_redirect_uri, scope}
//   stdout   {"authorize": "<authorization URL>"}
//   stdin    the callback URL the browser was redirected to
//   stdout   {"result": {...}} with what the relying party validated, or {"error": ...}
//
// Nothing is relaxed except allowInsecureRequests, because the test server speaks plain HTTP.
import * as client from 'openid-client';
import { createInterface } from 'node:readline';

const cfg = JSON.parse(process.argv[2]);
const lines = createInterface({ input: process.stdin })[Symbol.asyncIterator]();
const emit = (obj) => process.stdout.write(JSON.stringify(obj) + '\n');

async function readLine() {
  const { value, done } = await lines.next();
  if (done) throw new Error('stdin closed before the callback URL arrived');
  return value.trim();
}

async function main() {
  const config = await client.discovery(
    new URL(cfg.issuer), cfg.client_id, undefined,
    client.ClientSecretBasic(cfg.client_secret),
    { execute: [client.allowInsecureRequests] },
  );
  const verifier = client.randomPKCECodeVerifier();
  const state = client.randomState();
  const nonce = client.randomNonce();
  const authorize = client.buildAuthorizationUrl(config, {
    redirect_uri: cfg.redirect_uri,
    scope: cfg.scope,
    code_challenge: await client.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    state,
    nonce,
  });
  emit({ authorize: authorize.href });

  const callback = new URL(await readLine());
  const tokens = await client.authorizationCodeGrant(config, callback, {
    pkceCodeVerifier: verifier,
    expectedState: state,
    expectedNonce: nonce,
    idTokenExpected: true,
  });
  const claims = tokens.claims();
  const userinfo = await client.fetchUserInfo(config, tokens.access_token, claims.sub);

  const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token);
  const refreshedClaims = refreshed.claims();
  const userinfoAfterRefresh = await client.fetchUserInfo(config, refreshed.access_token, claims.sub);

  const logout = client.buildEndSessionUrl(config, {
    id_token_hint: refreshed.id_token,
    post_logout_redirect_uri: cfg.post_logout_redirect_uri,
    state: 'bye',
  });
  emit({
    result: {
      issuer: config.serverMetadata().issuer,
      id_token_claims: claims,
      userinfo,
      refreshed_claims: refreshedClaims,
      userinfo_after_refresh: userinfoAfterRefresh,
      rotated: refreshed.refresh_token !== tokens.refresh_token,
      first_access_token: tokens.access_token,
      first_refresh_token: tokens.refresh_token,
      token_type: tokens.token_type,
      logout: logout.href,
    },
  });
}

main().then(
  () => process.exit(0),
  (err) => {
    emit({ error: { name: err?.name, code: err?.code, message: String(err?.message ?? err),
                    cause: err?.cause ? String(err.cause?.message ?? err.cause) : undefined } });
    process.exit(1);
  },
);
