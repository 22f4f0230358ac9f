// Apollo Client 4 in Node against the real gateway, configured as a frontend would: automatic
// persisted queries (sha256 from node:crypto) in front of HttpLink, subscriptions over
// graphql-transport-ws (graphql-ws + ws), split by operation type.
//
// Driven by tests/clients/test_apollo.py. Input (env): SELIQ_URL, SELIQ_KEY (write scope),
// SELIQ_READ_KEY (read scope). Output: JSON lines on stdout:
//   {"step": "subscribed"}               the WebSocket is acknowledged and the subscription sent:
//                                        the test now posts alerts to the webhook
//   {"step": "received", "title": ...}   the first alert arrived: the test stops posting
//   {"result": {...}}                    everything observed, checked by the test
// A failure prints {"error": "..."} and exits 1; nothing may take longer than SELIQ_TIMEOUT_MS.
import { createHash } from "node:crypto";

import {
  ApolloClient,
  ApolloLink,
  CombinedGraphQLErrors,
  HttpLink,
  InMemoryCache,
  gql,
} from "@apollo/client";
import { PersistedQueryLink } from "@apollo/client/link/persisted-queries";
import { GraphQLWsLink } from "@apollo/client/link/subscriptions";
import { getMainDefinition } from "@apollo/client/utilities";
import { createClient } from "graphql-ws";
import WebSocket from "ws";

const url = process.env.SELIQ_URL;
const key = process.env.SELIQ_KEY;
const readKey = process.env.SELIQ_READ_KEY;
const timeoutMs = Number(process.env.SELIQ_TIMEOUT_MS || 60000);

const emit = (object) => process.stdout.write(`${JSON.stringify(object)}\n`);
const fail = (message) => {
  emit({ error: message });
  process.exit(1);
};
const watchdog = setTimeout(() => fail(`no result within ${timeoutMs} ms`), timeoutMs);

// Every HTTP request the clients make, as sent and as answered.
const requests = [];

function recordingFetch(client) {
  return async (uri, options) => {
    const sent = JSON.parse(options.body);
    const response = await fetch(uri, options);
    let answer = null;
    try {
      answer = await response.clone().json();
    } catch {
      // not JSON: recorded as such
    }
    requests.push({
      client,
      method: options.method,
      operationName: sent.operationName ?? null,
      query: typeof sent.query === "string" ? sent.query : null,
      sha256Hash: sent.extensions?.persistedQuery?.sha256Hash ?? null,
      status: response.status,
      errorCodes: (answer?.errors ?? []).map((error) => error.extensions?.code ?? null),
      hasData: answer?.data != null,
    });
    return response;
  };
}

const sha256 = (text) => createHash("sha256").update(text).digest("hex");

function makeClient(name, secret) {
  const http = new HttpLink({
    uri: `${url}/graphql`,
    headers: { Authorization: `Bearer ${secret}` },
    fetch: recordingFetch(name),
  });
  const persisted = new PersistedQueryLink({ sha256 });
  const socket = createClient({
    url: `${url.replace(/^http/, "ws")}/graphql`,
    webSocketImpl: WebSocket, // Node 20 has no global WebSocket
    connectionParams: { Authorization: `Bearer ${secret}` },
    retryAttempts: 0,
  });
  const isSubscription = ({ query }) => {
    const definition = getMainDefinition(query);
    return definition.kind === "OperationDefinition" && definition.operation === "subscription";
  };
  const link = ApolloLink.split(isSubscription, new GraphQLWsLink(socket), persisted.concat(http));
  return { client: new ApolloClient({ link, cache: new InMemoryCache() }), socket };
}

const VIEWER = gql`
  query Viewer {
    viewer { id name scope workspace { id slug } }
  }
`;
const INCIDENTS = gql`
  query Incidents {
    incidents(first: 5) { totalCount nodes { id title status } }
  }
`;
const ALERTS = gql`
  subscription Alerts {
    alertsIngested { outcome alert { id title severity incident { id number status } } }
  }
`;
const ACKNOWLEDGE = gql`
  mutation Acknowledge($id: ID!, $assignee: String) {
    updateIncident(input: { id: $id, status: ACKNOWLEDGED, assignee: $assignee }) {
      incident { id status assignee acknowledgedAt }
      userErrors { field message code }
    }
  }
`;

function describeError(error) {
  if (CombinedGraphQLErrors.is(error)) {
    return {
      name: error.name,
      codes: error.errors.map((e) => e.extensions?.code ?? null),
      messages: error.errors.map((e) => e.message),
      data: error.data ?? null,
    };
  }
  return { name: error?.name ?? "Error", message: String(error?.message ?? error) };
}

function firstAlert(client, socket) {
  return new Promise((resolve, reject) => {
    let subscription = null;
    const off = socket.on("connected", () => emit({ step: "subscribed" }));
    subscription = client.subscribe({ query: ALERTS }).subscribe({
      next(result) {
        if (result.error) {
          reject(result.error);
        } else if (result.data) {
          off();
          subscription?.unsubscribe();
          resolve(result.data.alertsIngested);
        }
      },
      error: reject,
    });
  });
}

async function main() {
  const writer = makeClient("write", key);
  const reader = makeClient("read", readKey);
  const result = {};

  // A query.
  result.viewer = (await writer.client.query({ query: VIEWER })).data.viewer;

  // The persisted-query handshake: hash only → PERSISTED_QUERY_NOT_FOUND → hash and document;
  // the same query again is sent as the hash alone and answered.
  const first = await writer.client.query({ query: INCIDENTS, fetchPolicy: "network-only" });
  const second = await writer.client.query({ query: INCIDENTS, fetchPolicy: "network-only" });
  result.incidents = { first: first.data.incidents, second: second.data.incidents };

  // A subscription: the test posts an alert to the webhook once we say we are subscribed.
  const event = await firstAlert(writer.client, writer.socket);
  emit({ step: "received", title: event.alert.title });
  result.event = event;

  // A mutation on the incident the alert opened.
  const acknowledged = await writer.client.mutate({
    mutation: ACKNOWLEDGE,
    variables: { id: event.alert.incident.id, assignee: "apollo" },
  });
  result.mutation = acknowledged.data.updateIncident;

  // A read key may query, but its mutation is FORBIDDEN.
  result.readViewer = (await reader.client.query({ query: VIEWER })).data.viewer;
  try {
    const refused = await reader.client.mutate({
      mutation: ACKNOWLEDGE,
      variables: { id: event.alert.incident.id, assignee: "reader" },
    });
    result.readMutation = { resolved: refused };
  } catch (error) {
    result.readMutation = { rejected: describeError(error) };
  }

  result.requests = requests;
  result.apolloVersion = (await import("@apollo/client")).version;
  await Promise.all([writer.socket.dispose(), reader.socket.dispose()]);
  writer.client.stop();
  reader.client.stop();
  clearTimeout(watchdog);
  emit({ result });
}

if (!url || !key || !readKey) {
  fail("SELIQ_URL, SELIQ_KEY and SELIQ_READ_KEY are required");
}
main().then(
  () => process.exit(0),
  (error) => fail(error?.stack ?? String(error)),
);
