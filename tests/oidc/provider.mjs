// A real OpenID Connect provider on loopback for the sign-in tests (the certified oidc-provider).
//
// Listens on a free port of 127.0.0.1, prints "READY <issuer>" on its first line, and serves one
// confidential client. The accounts, and so the claims each sign-in carries, are read from the JSON
// file OIDC_ACCOUNTS at every request: a test changes a person's groups between two sign-ins by
// rewriting that file. Usage: node provider.mjs (env OIDC_CLIENT_ID, OIDC_CLIENT_SECRET,
// OIDC_REDIRECT_URI, OIDC_ACCOUNTS).
import { readFileSync } from 'node:fs';
import http from 'node:http';

import Provider from 'oidc-provider';

const { OIDC_CLIENT_ID, OIDC_CLIENT_SECRET, OIDC_REDIRECT_URI, OIDC_ACCOUNTS } = process.env;

function account(id) {
  const people = JSON.parse(readFileSync(OIDC_ACCOUNTS, 'utf8'));
  return people[id];
}

const server = http.createServer();
server.listen(0, '127.0.0.1', () => {
  const issuer = `http://127.0.0.1:${server.address().port}`;
  const provider = new Provider(issuer, {
    clients: [{
      client_id: OIDC_CLIENT_ID,
      client_secret: OIDC_CLIENT_SECRET,
      redirect_uris: OIDC_REDIRECT_URI.split(' '),
      grant_types: ['authorization_code'],
      response_types: ['code'],
      id_token_signed_response_alg: 'RS256',
    }],
    scopes: ['openid', 'email', 'profile', 'groups'],
    claims: {
      openid: ['sub'],
      email: ['email', 'email_verified'],
      profile: ['name', 'preferred_username'],
      groups: ['groups'],
    },
    pkce: { required: () => false },
    // The first party's own client: no consent screen, and a silent (prompt=none) refresh works.
    async loadExistingGrant(ctx) {
      const grantId = ctx.oidc.result?.consent?.grantId
        || ctx.oidc.session.grantIdFor(ctx.oidc.client.clientId);
      if (grantId) return ctx.oidc.provider.Grant.find(grantId);
      const grant = new ctx.oidc.provider.Grant({
        clientId: ctx.oidc.client.clientId,
        accountId: ctx.oidc.session.accountId,
      });
      grant.addOIDCScope('openid email profile groups');
      grant.addOIDCClaims(['email', 'email_verified', 'name', 'preferred_username', 'groups']);
      await grant.save();
      return grant;
    },
    async findAccount(ctx, id) {
      const person = account(id);
      if (!person) return undefined;
      return {
        accountId: id,
        async claims() {
          // Read again at each token and userinfo request: the claims are the file's now.
          const now = account(id) || {};
          return { sub: id, email_verified: true, ...now };
        },
      };
    },
  });
  provider.proxy = false;
  server.on('request', provider.callback());
  process.stdout.write(`READY ${issuer}\n`);
});
