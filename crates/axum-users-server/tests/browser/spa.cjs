// examples/spa in headless Chromium against the server: sign in with the cookie from another
// (allowed) origin, read and change /users/me; then a page of an origin that is not allowed
// tries to read /users/me, to sign the browser in to another account, and to sign it out; then
// the app again. Prints one JSON line; tests/spa.rs asserts on it.
// Usage: node spa.cjs SPA_URL EVIL_URL EMAIL PASSWORD NEW_EMAIL
const { chromium } = require('playwright-core');

const [spaUrl, evilUrl, email, password, newEmail] = process.argv.slice(2);

(async () => {
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: [
      '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
    ],
  });
  const result = {};
  const signedInAs = async (page) => {
    await page.waitForFunction(() => {
      const text = document.getElementById('status').textContent;
      return text.startsWith('Signed in') || text.startsWith('Not signed in') || text.includes('failed');
    }, null, { timeout: 15000 });
    return page.locator('#status').innerText();
  };
  try {
    const context = await browser.newContext();
    const app = await context.newPage();
    await app.goto(spaUrl);
    result.before = await signedInAs(app);
    await app.fill('#login input[name=username]', email);
    await app.fill('#login input[name=password]', password);
    await app.click('#login button[type=submit]');
    await app.waitForFunction(() => document.getElementById('status').textContent.startsWith('Signed in'), null, { timeout: 15000 });
    result.signedIn = await app.locator('#status').innerText();
    await app.fill('#profile input[name=email]', newEmail);
    await app.click('#profile button[type=submit]');
    await app.waitForFunction((e) => document.getElementById('status').dataset.email === e, newEmail, { timeout: 15000 });
    result.patched = await app.locator('#status').innerText();

    const evil = await context.newPage();
    await evil.goto(evilUrl);
    await evil.waitForFunction(() => document.title === 'done', null, { timeout: 15000 });
    result.evil = JSON.parse(await evil.locator('#result').innerText());

    await app.reload();
    result.after = await signedInAs(app);
  } catch (error) {
    result.error = String(error);
  } finally {
    await browser.close();
  }
  console.log(JSON.stringify(result));
})();
