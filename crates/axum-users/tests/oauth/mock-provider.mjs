// A real OpenID Connect provider on loopback for tests/oauth.rs: oauth2-mock-server (from npm,
// installed by .ci/run; OAUTH2_MOCK_SERVER names its dist/index.mjs). Discovery, JWKS (RS256),
// authorization code with PKCE and nonce, ID tokens.
//
// The account that "logs in" at the provider is chosen the way a person would pick one on its
// login page: `login_hint=<sub>|<email>|<email_verified>[|<twist>]` on the authorization URL.
// An empty e-mail leaves the claim out; a twist makes the ID token wrong in one way: `bad-nonce`,
// `bad-at-hash`, `other-azp`, `several-audiences` (and no azp), or `no-kid` (a header without kid).
const { OAuth2Server } = await import(process.env.OAUTH2_MOCK_SERVER);

const server = new OAuth2Server();
await server.issuer.keys.generate('RS256');
const accounts = new Map();

server.service.on('beforeAuthorizeRedirect', (redirect, req) => {
  const hint = new URL(req.url, 'http://localhost').searchParams.get('login_hint');
  const code = redirect.url.searchParams.get('code');
  if (hint !== null && code !== null) {
    const [sub, email, verified, twist] = hint.split('|');
    accounts.set(code, { sub, email, verified: verified === 'true', twist });
  }
});

server.service.on('beforeTokenSigning', (token, req) => {
  const account = accounts.get(req.body?.code);
  if (account === undefined || token.payload.aud === undefined) return; // access tokens
  token.payload.sub = account.sub;
  if (account.email) {
    token.payload.email = account.email;
    token.payload.email_verified = account.verified;
  }
  if (account.twist === 'bad-nonce') token.payload.nonce = 'forged';
  if (account.twist === 'bad-at-hash') token.payload.at_hash = 'AAAAAAAAAAAAAAAAAAAAAA';
  if (account.twist === 'other-azp') {
    token.payload.aud = [token.payload.aud, 'someone-else'];
    token.payload.azp = 'someone-else';
  }
  if (account.twist === 'several-audiences') token.payload.aud = [token.payload.aud, 'someone-else'];
  if (account.twist === 'no-kid') delete token.header.kid;
});

await server.start(0, '127.0.0.1');
console.log(server.issuer.url);
