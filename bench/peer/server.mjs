// PostGraphile 5 on the bench's PostgreSQL database, for `python -m bench --peer` (T10).
// As its docs deploy it for production: the Amber preset, no GraphiQL, no watch mode, no
// explain. /healthz answers once the schema is built, which is what the bench waits for.
import { createServer } from "node:http";
import { postgraphile } from "postgraphile";
import { grafserv } from "postgraphile/grafserv/node";
import { PostGraphileAmberPreset } from "postgraphile/presets/amber";
import { makePgService } from "postgraphile/adaptors/pg";

const port = Number(process.env.PORT);
const preset = {
  extends: [PostGraphileAmberPreset],
  pgServices: [
    makePgService({ connectionString: process.env.DATABASE_URL, schemas: ["public"] }),
  ],
  grafserv: { graphqlPath: "/graphql", graphiql: false, watch: false },
  grafast: { explain: false },
};
const pgl = postgraphile(preset);
const serv = pgl.createServ(grafserv);
await pgl.getSchema();
const handler = serv.createHandler();
const server = createServer((req, res) => {
  if (req.url === "/healthz") {
    res.writeHead(200, { "content-type": "text/plain" });
    res.end("ok");
    return;
  }
  handler(req, res);
});
server.on("error", (error) => {
  console.error(error);
  process.exit(1);
});
process.on("SIGINT", () => server.close(() => process.exit(0)));
server.listen(port, "127.0.0.1", () => console.log(`postgraphile listening on ${port}`));
