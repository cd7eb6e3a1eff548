// Better Auth for bench/run: e-mail and password, the bearer plugin, SQLite through
// better-sqlite3; its session cookie cache when COOKIE_CACHE=on. Listens on 127.0.0.1:PORT;
// GET /ok is a trivial route beside it (the Node floor).
import http from "node:http";
import Database from "better-sqlite3";
import { betterAuth } from "better-auth";
import { bearer } from "better-auth/plugins";
import { toNodeHandler } from "better-auth/node";
import { getMigrations } from "better-auth/db/migration";

const port = Number(process.env.PORT);
const auth = betterAuth({
  database: new Database(process.env.DATABASE),
  secret: process.env.SECRET,
  baseURL: `http://127.0.0.1:${port}`,
  emailAndPassword: { enabled: true },
  plugins: [bearer()],
  // One load generator on one address: measure the server, not its limits (as for ours).
  rateLimit: { enabled: false },
  session: process.env.COOKIE_CACHE === "on" ? { cookieCache: { enabled: true, maxAge: 300 } } : {},
});
const { runMigrations } = await getMigrations(auth.options);
await runMigrations();
const handler = toNodeHandler(auth);
http
  .createServer((req, res) => {
    if (req.url === "/ok") {
      res.end("ok");
      return;
    }
    handler(req, res);
  })
  .listen(port, "127.0.0.1");
