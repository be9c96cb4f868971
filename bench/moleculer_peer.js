// The moleculer-web peer of the profile scenario (bench/moleculer_peer.py starts it).
//
// Two Node processes, like the gateway and its user worker: an "api" node
// (moleculer-web) that verifies the bearer JWT and checks the session in
// Redis, then calls users.profile over the Redis transporter; a "users" node
// that reads the user from PostgreSQL with a prepared statement. Same route,
// same database, same token, same JSON shape as GET /api/users/profile.
//
//   node moleculer_peer.js api|users
//   env: PORT (api), DATABASE_URL, REDIS_URL, RPC_PREFIX, JWT_SECRET,
//        JWT_ISSUER, JWT_AUDIENCE, DB_POOL_MAX
"use strict";

const crypto = require("crypto");
const { ServiceBroker, Errors } = require("moleculer");

const role = process.argv[2];
const env = process.env;

const broker = new ServiceBroker({
  nodeID: `${role}-${process.pid}`,
  namespace: env.RPC_PREFIX,
  transporter: env.REDIS_URL,
  logger: { type: "Console", options: { level: "warn" } },
  // What a production setup would keep: no per-call metrics or tracing.
  metrics: false,
  tracing: false,
});

function base64url(buffer) {
  return buffer.toString("base64").replace(/=+$/, "").replace(/\+/g, "-").replace(/\//g, "_");
}

// HS256 only, with the claims PyJWT is told to require (common/security/tokens.py).
function verifyToken(token) {
  const parts = token.split(".");
  if (parts.length !== 3) return null;
  const header = JSON.parse(Buffer.from(parts[0], "base64url").toString());
  if (header.alg !== "HS256") return null;
  const expected = base64url(
    crypto.createHmac("sha256", env.JWT_SECRET).update(`${parts[0]}.${parts[1]}`).digest()
  );
  const given = Buffer.from(parts[2]);
  if (given.length !== expected.length || !crypto.timingSafeEqual(given, Buffer.from(expected))) {
    return null;
  }
  const claims = JSON.parse(Buffer.from(parts[1], "base64url").toString());
  const now = Date.now() / 1000;
  for (const name of ["exp", "iat", "sub", "sid", "iss", "aud", "jti"]) {
    if (claims[name] === undefined) return null;
  }
  if (claims.exp <= now || claims.iss !== env.JWT_ISSUER || claims.aud !== env.JWT_AUDIENCE) {
    return null;
  }
  return claims;
}

function unauthorized(message) {
  return new Errors.MoleculerClientError(message, 401, "unauthorized");
}

if (role === "api") {
  const ApiGateway = require("moleculer-web");
  const Redis = require("ioredis");
  const redis = new Redis(env.REDIS_URL);
  broker.createService({
    name: "api",
    mixins: [ApiGateway],
    settings: {
      port: Number(env.PORT),
      ip: "127.0.0.1",
      logRequest: null,
      logResponse: null,
      routes: [
        {
          path: "/api/users",
          authorization: true,
          aliases: { "GET profile": "users.profile" },
          mappingPolicy: "restrict",
        },
        { path: "/", aliases: { "GET health": "api.health" }, mappingPolicy: "restrict" },
      ],
    },
    actions: {
      // Healthy once the users node answers over the transporter.
      async health(ctx) {
        await ctx.call("users.ping");
        return { status: "healthy" };
      },
    },
    methods: {
      async authorize(ctx, route, req) {
        const [scheme, token] = (req.headers.authorization || "").split(" ");
        const claims = scheme === "Bearer" && token ? verifyToken(token) : null;
        if (claims === null) throw unauthorized("Invalid token");
        const state = await redis.get(`${env.RPC_PREFIX}:session:${claims.sid}`);
        if (state !== String(claims.sub)) throw unauthorized("Session has ended; log in again");
        ctx.meta.userId = Number(claims.sub);
      },
    },
    stopped() {
      return redis.quit();
    },
  });
  broker.start().then(() => broker.waitForServices(["users"]));
} else if (role === "users") {
  const { Pool } = require("pg");
  const pool = new Pool({ connectionString: env.DATABASE_URL, max: Number(env.DB_POOL_MAX) });
  const query = {
    name: "get_user_profile",
    text: "SELECT id, username, email, created_at FROM users WHERE id = $1",
  };
  broker.createService({
    name: "users",
    actions: {
      ping() {
        return "pong";
      },
      async profile(ctx) {
        const { rows } = await pool.query({ ...query, values: [ctx.meta.userId] });
        if (rows.length === 0) {
          throw new Errors.MoleculerClientError("User not found", 404, "not_found");
        }
        const row = rows[0];
        return {
          success: true,
          user: {
            id: row.id,
            username: row.username,
            email: row.email,
            created_at: row.created_at.toISOString(),
          },
        };
      },
    },
    stopped() {
      return pool.end();
    },
  });
  broker.start();
} else {
  console.error("usage: node moleculer_peer.js api|users");
  process.exit(2);
}

for (const signal of ["SIGTERM", "SIGINT"]) {
  process.on(signal, () => broker.stop().then(() => process.exit(0)));
}
