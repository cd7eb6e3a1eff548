// Code written against the client @hey-api/openapi-ts generates from FastAPI Users' document:
// tests/clients.rs type-checks it against FastAPI Users' client and against ours, then runs it
// on our server (node). Usage: node usage.js BASE_URL OUTBOX_DIR ADMIN_EMAIL ADMIN_PASSWORD
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

import { client } from './client/client.gen';
import {
  authJwtLoginAuthJwtLoginPost,
  authJwtLogoutAuthJwtLogoutPost,
  registerRegisterAuthRegisterPost,
  resetForgotPasswordAuthForgotPasswordPost,
  resetResetPasswordAuthResetPasswordPost,
  usersCurrentUserUsersMeGet,
  usersDeleteUserUsersIdDelete,
  usersPatchCurrentUserUsersMePatch,
  usersPatchUserUsersIdPatch,
  usersUserUsersIdGet,
} from './client/sdk.gen';
import type { BodyAuthJwtLoginAuthJwtLoginPost, UserRead, UserUpdate } from './client/types.gen';

const [base, outbox, adminEmail, adminPassword] = process.argv.slice(2);
client.setConfig({ baseUrl: base });

function check(condition: unknown, what: string): asserts condition {
  if (!condition) throw new Error(what);
}

const bearer = (token: string) => ({ headers: { Authorization: `Bearer ${token}` } });

async function signIn(username: string, password: string): Promise<string> {
  const body: BodyAuthJwtLoginAuthJwtLoginPost = { username, password };
  const { data, response } = await authJwtLoginAuthJwtLoginPost({ body });
  check(response.status === 200 && data, `login ${response.status}`);
  check(data.token_type === 'bearer', 'a bearer token');
  return data.access_token;
}

// A form's fields, as a front-end holds them: empty means "leave it as it is".
function changes(form: { password: string; email: string }): UserUpdate {
  return { password: form.password || null, email: form.email || null };
}

async function main(): Promise<void> {
  const created = await registerRegisterAuthRegisterPost({
    body: { email: 'tristan@camelot.bt', password: 'iseult-forever' },
  });
  check(created.response.status === 201 && created.data, `register ${created.response.status}`);
  const user: UserRead = created.data;
  check(user.email === 'tristan@camelot.bt' && user.is_active && !user.is_superuser, 'registered');

  let token = await signIn('tristan@camelot.bt', 'iseult-forever');
  const me = await usersCurrentUserUsersMeGet(bearer(token));
  check(me.data?.id === user.id, 'me');
  const patched = await usersPatchCurrentUserUsersMePatch({
    ...bearer(token),
    body: changes({ password: 'iseult-2', email: '' }),
  });
  check(patched.response.status === 200 && patched.data?.email === 'tristan@camelot.bt', 'patch');
  const loggedOut = await authJwtLogoutAuthJwtLogoutPost(bearer(token));
  check(loggedOut.response.status === 204, `logout ${loggedOut.response.status}`);
  token = await signIn('tristan@camelot.bt', 'iseult-2');

  const admin = await signIn(adminEmail, adminPassword);
  const fetched = await usersUserUsersIdGet({ ...bearer(admin), path: { id: user.id } });
  check(fetched.data?.email === 'tristan@camelot.bt', 'superuser get');
  const verified = await usersPatchUserUsersIdPatch({
    ...bearer(admin),
    path: { id: user.id },
    body: { is_verified: true, is_superuser: null },
  });
  check(verified.data?.is_verified === true, 'superuser patch');
  const refused = await usersUserUsersIdGet({ ...bearer(token), path: { id: user.id } });
  check(refused.response.status === 403, `not a superuser ${refused.response.status}`);

  const sent = await resetForgotPasswordAuthForgotPasswordPost({
    body: { email: 'tristan@camelot.bt' },
  });
  check(sent.response.status === 202, `forgot ${sent.response.status}`);
  let reset: string | undefined;
  for (let attempt = 0; attempt < 100 && !reset; attempt += 1) {
    const mails = existsSync(outbox) ? readdirSync(outbox, { withFileTypes: true }) : [];
    for (const name of mails) {
      const found = /token=([A-Za-z0-9._-]+)/.exec(readFileSync(join(outbox, name.name), 'utf8'));
      if (found) reset = found[1];
    }
    if (!reset) await new Promise((done) => setTimeout(done, 100));
  }
  check(reset, 'a reset e-mail in the outbox');
  const done = await resetResetPasswordAuthResetPasswordPost({
    body: { token: reset, password: 'iseult-3' },
  });
  check(done.response.status === 200, `reset ${done.response.status}`);
  await signIn('tristan@camelot.bt', 'iseult-3');

  const deleted = await usersDeleteUserUsersIdDelete({ ...bearer(admin), path: { id: user.id } });
  check(deleted.response.status === 204, `delete ${deleted.response.status}`);
  const gone = await usersUserUsersIdGet({ ...bearer(admin), path: { id: user.id } });
  check(gone.response.status === 404, `gone ${gone.response.status}`);
  console.log('flow ok');
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
