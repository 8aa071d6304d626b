'use strict';
// The wire between the gateway and a worker, as src/callbox/worker/protocol.py carries it:
//   frame = u32 header_length | u32 body_length | header (UTF-8 JSON object) | body (raw bytes)
// lengths big-endian; the header always has a "type". What each frame holds, field by field,
// is src/callbox/worker/frames.py (the contract; tests/worker/test_contract.py checks it).

// Not the global: timers.js makes that one belong to the invocation that calls it.
const { setImmediate } = require('node:timers');

const PREFIX = 8;
// A header carries the event (bounded by the 1 MB request limit); anything far larger is a bug.
const MAX_HEADER_BYTES = 16 * 1024 * 1024;

class ProtocolError extends Error {}

function encode(header, body) {
  const raw = Buffer.from(JSON.stringify(header));
  const payload = body || EMPTY;
  const prefix = Buffer.allocUnsafe(PREFIX);
  prefix.writeUInt32BE(raw.length, 0);
  prefix.writeUInt32BE(payload.length, 4);
  return payload.length ? [prefix, raw, payload] : [prefix, raw];
}

const EMPTY = Buffer.alloc(0);

/** Cuts a byte stream into frames: feed() chunks, onFrame(header, body) for each whole frame. */
class FrameReader {
  constructor(onFrame) {
    this.onFrame = onFrame;
    this.chunks = [];
    this.size = 0;
  }

  feed(chunk) {
    this.chunks.push(chunk);
    this.size += chunk.length;
    while (this.size >= PREFIX) {
      const head = this.peek(PREFIX);
      const headerLength = head.readUInt32BE(0);
      const bodyLength = head.readUInt32BE(4);
      if (headerLength > MAX_HEADER_BYTES) {
        throw new ProtocolError(`frame header of ${headerLength} bytes is over the limit`);
      }
      const total = PREFIX + headerLength + bodyLength;
      if (this.size < total) return;
      const frame = this.take(total);
      let header;
      try {
        header = JSON.parse(frame.toString('utf8', PREFIX, PREFIX + headerLength));
      } catch (error) {
        throw new ProtocolError(`frame header is not JSON: ${error.message}`);
      }
      if (header === null || typeof header !== 'object' || typeof header.type !== 'string') {
        throw new ProtocolError("frame header must be a JSON object with a string 'type'");
      }
      this.onFrame(header, frame.subarray(PREFIX + headerLength));
    }
  }

  peek(count) {
    if (this.chunks[0].length < count) this.chunks = [Buffer.concat(this.chunks)];
    return this.chunks[0];
  }

  take(count) {
    const all = this.chunks.length === 1 ? this.chunks[0] : Buffer.concat(this.chunks);
    this.chunks = all.length > count ? [all.subarray(count)] : [];
    this.size -= count;
    return all.subarray(0, count);
  }
}

/** Frames queued in one turn of the event loop leave in one write (fewer system calls). */
class Outbox {
  constructor(socket) {
    this.socket = socket;
    this.parts = [];
  }

  put(header, body) {
    if (!this.parts.length) setImmediate(() => this.flush());
    this.parts.push(...encode(header, body));
  }

  flush() {
    const parts = this.parts;
    this.parts = [];
    if (!this.socket.destroyed && parts.length) this.socket.write(Buffer.concat(parts));
  }
}

module.exports = { encode, FrameReader, Outbox, ProtocolError, SOCKET_FD: 3, SPEC_FD: 4 };
