// examples/spa in headless Chromium with a CDP virtual authenticator (CTAP2, internal, resident
// keys, user verification): sign in with the password, add a passkey, sign out, sign in with
// the passkey alone (no user name typed), and read /users/me through the page. Then a second
// passkey for the same account is refused by the authenticator itself (the server's options
// exclude the one it holds). Prints one JSON line; tests/spa.rs asserts on it.
// Usage: node passkey.cjs SPA_URL EMAIL PASSWORD
const { chromium } = require('playwright-core');

const [spaUrl, email, password] = process.argv.slice(2);

(async () => {
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: [
      '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
    ],
  });
  const result = {};
  const statusIs = (page, prefix) => page.waitForFunction(
    (p) => document.getElementById('status').textContent.startsWith(p), prefix, { timeout: 15000 });
  const textIs = (page, id, prefix) => page.waitForFunction(
    ([i, p]) => document.getElementById(i).textContent.startsWith(p), [id, prefix], { timeout: 15000 });
  try {
    const page = await (await browser.newContext()).newPage();
    const cdp = await page.context().newCDPSession(page);
    await cdp.send('WebAuthn.enable');
    const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
      options: {
        protocol: 'ctap2', transport: 'internal', hasResidentKey: true,
        hasUserVerification: true, isUserVerified: true, automaticPresenceSimulation: true,
      },
    });
    await page.goto(spaUrl);
    await statusIs(page, 'Not signed in');
    await page.fill('#login input[name=username]', email);
    await page.fill('#login input[name=password]', password);
    await page.click('#login button[type=submit]');
    await statusIs(page, 'Signed in');

    await page.click('#passkey-add');
    await textIs(page, 'passkey-state', 'Added');
    await page.waitForFunction(() => document.querySelectorAll('#passkey-list li').length === 1,
      null, { timeout: 15000 });
    result.passkeys = await page.locator('#passkey-list li').allInnerTexts();
    const { credentials } = await cdp.send('WebAuthn.getCredentials', { authenticatorId });
    result.resident = credentials.map((c) => c.isResidentCredential);

    // The same authenticator again: it holds an excluded credential, so the browser refuses.
    await page.click('#passkey-add');
    await textIs(page, 'passkey-state', 'Not added');
    result.second = await page.locator('#passkey-state').innerText();

    await page.click('#logout');
    await statusIs(page, 'Not signed in');
    await page.reload();
    await statusIs(page, 'Not signed in');
    result.signedOut = await page.locator('#status').innerText();

    // No user name, no password: the authenticator offers its passkey for this site.
    await page.click('#passkey-login');
    await statusIs(page, 'Signed in');
    result.withPasskey = await page.locator('#status').innerText();
    result.me = await page.evaluate(async () => {
      const api = new URLSearchParams(location.search).get('api');
      const me = await fetch(api + '/users/me', { credentials: 'include' });
      return `${me.status} ${(await me.json()).email}`;
    });
    const after = await cdp.send('WebAuthn.getCredentials', { authenticatorId });
    result.signCount = after.credentials[0].signCount;

    // Without the authenticator's user verification the server refuses.
    await page.click('#logout');
    await statusIs(page, 'Not signed in');
    await cdp.send('WebAuthn.setUserVerified', { authenticatorId, isUserVerified: false });
    await page.click('#passkey-login');
    await page.waitForFunction(() => document.getElementById('status').textContent.includes('failed'),
      null, { timeout: 15000 });
    result.unverified = await page.locator('#status').innerText();
  } catch (error) {
    result.error = String(error);
  } finally {
    await browser.close();
  }
  console.log(JSON.stringify(result));
})();
