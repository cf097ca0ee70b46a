/**
 * The bus payload on Redis: `<sender node id>\n<JSON message>`. The sender prefix lets a node drop
 * its own publishes by their first bytes, before parsing (RedisClusterBus).
 */
export function busPayload(sender: string, json: string): string {
  return `${sender}\n${json}`;
}

/**
 * The start of a push payload, up to its body: `<sender>\n{"k":"push",...,"body":`. A Lua script
 * that has the body's JSON completes it (`<body>,"seq":N,"epoch":"E"}`), so the body travels to
 * Redis once (RedisPushLog).
 */
export function busPayloadHead(sender: string, fields: Record<string, unknown>): string {
  const json = JSON.stringify(fields);
  return `${sender}\n${json.slice(0, -1)},"body":`;
}
