// Swagger UI in headless Chromium, as a FastAPI user clicks through it: "Authorize" with the
// password flow, then "Try it out" on GET /users/me; then the Redoc page renders the operations.
// Prints one JSON line of what the pages showed; tests/browser.rs asserts on it.
// Usage: node swagger.cjs DOCS_URL EMAIL PASSWORD REDOC_URL
const { chromium } = require('playwright-core');

const [docsUrl, email, password, redocUrl] = process.argv.slice(2);

(async () => {
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: [
      '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
    ],
  });
  const result = {};
  try {
    const page = await browser.newPage();
    const response = await page.goto(docsUrl);
    result.pageStatus = response.status();
    result.finalUrl = page.url();
    await page.locator('button.authorize').first().click({ timeout: 15000 });
    const dialog = page.locator('.modal-ux');
    await dialog.locator('#oauth_username').first().fill(email);
    await dialog.locator('#oauth_password').first().fill(password);
    await dialog.locator('button.authorize').first().click();
    // Signed in: the flow's form is replaced by a "Logout" button; errors show in the dialog.
    await Promise.race([
      dialog.locator('button:has-text("Logout")').first().waitFor({ timeout: 15000 }),
      dialog.locator('.errors').first().waitFor({ timeout: 15000 }),
    ]);
    result.authError = (await dialog.locator('.errors').allInnerTexts()).join(' ').trim();
    result.authorized = await dialog.locator('button:has-text("Logout")').count() > 0;
    await dialog.locator('button.close-modal').first().click();

    const operation = page.locator('#operations-users-users_current_user_users_me_get');
    await operation.locator('.opblock-summary').first().click();
    await operation.locator('button.try-out__btn').click();
    await operation.locator('button.execute').click();
    const status = operation.locator('.live-responses-table .response .response-col_status').first();
    await status.waitFor({ timeout: 15000 });
    result.meStatus = (await status.innerText()).trim().split(/\s+/)[0];
    result.meBody = (await operation.locator('.live-responses-table .microlight').first().innerText()).trim();

    const redoc = await browser.newPage();
    result.redocStatus = (await redoc.goto(redocUrl)).status();
    const rendered = redoc.locator('h2', { hasText: 'Users:Current User' }).first();
    await rendered.waitFor({ timeout: 15000 });
    result.redocRendered = await rendered.isVisible();
  } catch (error) {
    result.error = String(error);
  } finally {
    await browser.close();
  }
  console.log(JSON.stringify(result));
})();
