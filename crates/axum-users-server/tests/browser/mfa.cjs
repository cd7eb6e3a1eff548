// examples/spa in headless Chromium: turn on TOTP (the test computes the codes from the secret
// the page shows, as an authenticator app would), sign out, sign in through the code prompt,
// then with a recovery code once, and be refused the second time. Prints one JSON line;
// tests/spa.rs asserts on it.
// Usage: node mfa.cjs SPA_URL EMAIL PASSWORD
const crypto = require('crypto');
const { chromium } = require('playwright-core');

const [spaUrl, email, password] = process.argv.slice(2);

function base32(text) {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = '';
  for (const c of text.replace(/=+$/, '')) bits += alphabet.indexOf(c).toString(2).padStart(5, '0');
  const bytes = [];
  for (let i = 0; i + 8 <= bits.length; i += 8) bytes.push(parseInt(bits.slice(i, i + 8), 2));
  return Buffer.from(bytes);
}

// RFC 6238: HMAC-SHA1 over the 30-second step, dynamic truncation, 6 digits.
function totp(secret, offsetSeconds) {
  const step = Math.floor((Date.now() / 1000 + offsetSeconds) / 30);
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(step));
  const mac = crypto.createHmac('sha1', base32(secret)).update(counter).digest();
  const offset = mac[mac.length - 1] & 15;
  return String((mac.readUInt32BE(offset) & 0x7fffffff) % 1000000).padStart(6, '0');
}

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
  const signIn = async (page) => {
    await page.fill('#login input[name=username]', email);
    await page.fill('#login input[name=password]', password);
    await page.click('#login button[type=submit]');
  };
  const signOut = async (page) => {
    await page.click('#logout');
    await statusIs(page, 'Not signed in');
  };
  try {
    const page = await (await browser.newContext()).newPage();
    await page.goto(spaUrl);
    await statusIs(page, 'Not signed in');
    await signIn(page);
    await statusIs(page, 'Signed in');
    await page.waitForFunction(() => document.getElementById('mfa-state').textContent !== '', null, { timeout: 15000 });
    result.stateBefore = await page.locator('#mfa-state').innerText();

    await page.click('#mfa-setup');
    await page.waitForFunction(() => document.getElementById('mfa-secret').textContent !== '', null, { timeout: 15000 });
    const secret = await page.locator('#mfa-secret').innerText();
    result.qrIsSvg = await page.locator('#mfa-qr svg').count() === 1;
    await page.fill('#mfa-enable input[name=code]', totp(secret, 0));
    await page.click('#mfa-enable button[type=submit]');
    await page.waitForFunction(() => document.querySelectorAll('#mfa-recovery li').length > 0, null, { timeout: 15000 });
    const codes = await page.locator('#mfa-recovery li').allInnerTexts();
    result.recoveryCodes = codes.length;
    await page.waitForFunction(() => document.getElementById('mfa-state').textContent.startsWith('On'), null, { timeout: 15000 });
    result.stateOn = await page.locator('#mfa-state').innerText();
    await signOut(page);

    // The password alone is not enough now: the page asks for the code.
    await signIn(page);
    await statusIs(page, 'Enter your code');
    result.prompted = await page.locator('#code').isVisible();
    // The step enable spent is spent; the next one is within the allowed skew.
    await page.fill('#code input[name=code]', totp(secret, 30));
    await page.click('#code button[type=submit]');
    await statusIs(page, 'Signed in');
    result.withTotp = await page.locator('#status').innerText();
    await signOut(page);

    await signIn(page);
    await statusIs(page, 'Enter your code');
    await page.fill('#code input[name=code]', codes[0]);
    await page.click('#code button[type=submit]');
    await statusIs(page, 'Signed in');
    result.withRecovery = await page.locator('#status').innerText();
    await page.waitForFunction(() => document.getElementById('mfa-state').textContent.startsWith('On'), null, { timeout: 15000 });
    result.stateAfter = await page.locator('#mfa-state').innerText();
    await signOut(page);

    await signIn(page);
    await statusIs(page, 'Enter your code');
    await page.fill('#code input[name=code]', codes[0]);
    await page.click('#code button[type=submit]');
    await statusIs(page, 'Sign-in failed');
    result.reused = await page.locator('#status').innerText();
  } catch (error) {
    result.error = String(error);
  } finally {
    await browser.close();
  }
  console.log(JSON.stringify(result));
})();
