/**
 * Preloaded into a service under test (NODE_OPTIONS="--require <this file>"): dns.lookup and dns.promises.lookup
 * answer the names listed in the JSON file named by FAKE_DNS_FILE (`{ "name": ["address", ...] }`, read at every
 * lookup, so a test can change an answer while the service runs); every other name goes to the system resolver.
 * Lets e2e tests use names that resolve to chosen addresses without a DNS server or network.
 */
'use strict';
const dns = require('node:dns');
const fs = require('node:fs');
const net = require('node:net');

function answers(host, options) {
  const file = process.env.FAKE_DNS_FILE;
  if (!file) return undefined;
  let table;
  try {
    table = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch {
    return undefined;
  }
  const listed = table[String(host).toLowerCase()];
  if (!Array.isArray(listed)) return undefined;
  const family = typeof options === 'number' ? options : (options && options.family) || 0;
  return listed.map((address) => ({ address, family: net.isIP(address) })).filter((a) => !family || a.family === family);
}

const notFound = (host) => Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), { code: 'ENOTFOUND', hostname: host });

const systemLookup = dns.lookup;
dns.lookup = function lookup(host, options, callback) {
  if (typeof options === 'function') [callback, options] = [options, {}];
  const list = answers(host, options);
  if (!list) return systemLookup.call(this, host, options, callback);
  process.nextTick(() => {
    if (!list.length) callback(notFound(host));
    else if (options && options.all) callback(null, list);
    else callback(null, list[0].address, list[0].family);
  });
  return {};
};

const systemPromiseLookup = dns.promises.lookup;
dns.promises.lookup = async function lookup(host, options) {
  const list = answers(host, options);
  if (!list) return systemPromiseLookup.call(this, host, options);
  if (!list.length) throw notFound(host);
  return options && options.all ? list : list[0];
};
