// Preloaded (`node --import ./conformance-bearer.mjs`) into the MCP conformance suite, whose server
// scenarios have no way to send credentials: adds `Authorization: Bearer $CONFORMANCE_BEARER` to
// every request it sends to the origin of $CONFORMANCE_URL, and changes nothing else. The suite
// sends requests three ways: global fetch and undici's `request` (both through undici's one
// global dispatcher, wrapped here) and `http.request` (for headers undici would not send as
// written, wrapped here too).
import http from 'node:http';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
// The undici the suite itself imports (its own nested copy), so the dispatcher API matches.
const { Agent, setGlobalDispatcher } = require(
  require.resolve('undici', {
    paths: [require.resolve('@modelcontextprotocol/conformance/package.json')],
  }),
);

const token = process.env.CONFORMANCE_BEARER;
if (!token) throw new Error('CONFORMANCE_BEARER is not set');
const target = new URL(process.env.CONFORMANCE_URL);
const bearer = `Bearer ${token}`;

function withBearer(headers) {
  if (headers == null) return { authorization: bearer };
  if (Array.isArray(headers)) {
    // undici takes a flat [name, value, …] list or a list of pairs.
    return Array.isArray(headers[0])
      ? [...headers, ['authorization', bearer]]
      : [...headers, 'authorization', bearer];
  }
  if (typeof headers[Symbol.iterator] === 'function') {
    return [...headers, ['authorization', bearer]];
  }
  return { ...headers, authorization: bearer };
}

setGlobalDispatcher(
  new Agent().compose((dispatch) => (options, handler) => {
    const ours = new URL(options.origin).origin === target.origin;
    return dispatch(ours ? { ...options, headers: withBearer(options.headers) } : options, handler);
  }),
);

const request = http.request;
http.request = function (options, ...rest) {
  const ours =
    options &&
    typeof options === 'object' &&
    !(options instanceof URL) &&
    options.hostname === target.hostname &&
    String(options.port) === target.port;
  return request.call(this, ours ? { ...options, headers: withBearer(options.headers) } : options, ...rest);
};
