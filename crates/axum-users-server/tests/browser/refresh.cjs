// examples/spa in headless Chromium against a server with refresh tokens and 2-second access
// tokens: sign in, let the access cookie expire, and reload: the page's 401 makes it refresh
// with the refresh cookie (sent to /auth/cookie/refresh only) and carry on signed in. Then sign out:
// the refresh cookie is cleared too, and a reload stays signed out. Prints one JSON line;
// tests/spa.rs asserts on it.
// Usage: node refresh.cjs SPA_URL EMAIL PASSWORD
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
  const settled = (page) => page.waitForFunction(() => {
    const text = document.getElementById('status').textContent;
    return text.startsWith('Signed in') || text.startsWith('Not signed in') || text.includes('failed');
  }, null, { timeout: 15000 });
  try {
    const context = await browser.newContext();
    const page = await context.newPage();
    const refreshes = [];
    page.on('response', (r) => { if (r.url().endsWith('/auth/cookie/refresh')) refreshes.push(r.status()); });
    await page.goto(spaUrl);
    await settled(page);
    await page.fill('#login input[name=username]', email);
    await page.fill('#login input[name=password]', password);
    await page.click('#login button[type=submit]');
    await page.waitForFunction(() => document.getElementById('status').textContent.startsWith('Signed in'), null, { timeout: 15000 });
    const cookies = await context.cookies();
    result.cookies = cookies.map((c) => `${c.name} ${c.path} ${c.httpOnly}`).sort();
    // The access cookie expires (Max-Age=2); the refresh cookie does not.
    await page.waitForTimeout(3000);
    // The page starts as "Not signed in." and becomes signed in once its refresh went through.
    await page.reload();
    await page.waitForFunction(() => document.getElementById('status').textContent.startsWith('Signed in'), null, { timeout: 15000 });
    result.afterExpiry = await page.locator('#status').innerText();
    result.refreshes = refreshes.slice();
    await page.click('#logout');
    await page.waitForFunction(() => document.getElementById('status').textContent.startsWith('Not signed in'), null, { timeout: 15000 });
    result.cookiesAfterLogout = (await context.cookies()).map((c) => c.name).sort();
    // Reloaded, the page tries its refresh (refused: the cookie is gone) and stays signed out.
    const refused = page.waitForResponse((r) => r.url().endsWith('/auth/cookie/refresh'), { timeout: 15000 });
    await page.reload();
    result.refreshAfterLogout = (await refused).status();
    await settled(page);
    result.afterLogout = await page.locator('#status').innerText();
  } catch (error) {
    result.error = String(error);
  } finally {
    await browser.close();
  }
  console.log(JSON.stringify(result));
})();
