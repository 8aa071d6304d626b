'use strict';
// The `context` argument: the environment's variables, DOMAIN_NAME, PATH, SERVICE_SID,
// ENVIRONMENT_SID and getTwilioClient(); one fresh object per invocation.

const logs = require('./logs');

// Read while unset in local development, these get one warning per worker, as in Python.
const LOCAL_ONLY_UNSET = ['SERVICE_SID', 'ENVIRONMENT_SID'];
const warned = new Set();

class TwilioClientError extends Error {
  constructor(message) {
    super(message);
    this.name = 'TwilioClientError';
  }
}

/**
 * @param {object} values the variables the gateway sent (invoke frame's `context`)
 * @param {{local: boolean, loadTwilio: () => any, deadline?: number}} options deadline:
 *   performance.now() at the execution limit
 */
function makeContext(values, options) {
  const { local, loadTwilio } = options;
  const context = { ...values };
  for (const key of LOCAL_ONLY_UNSET) {
    if (context[key] !== null && context[key] !== undefined) continue;
    // Unset is `undefined`, as on Twilio (JSON can only carry null).
    if (!local) {
      context[key] = undefined;
      continue;
    }
    let value;
    Object.defineProperty(context, key, {
      enumerable: true,
      configurable: true,
      get() {
        if (value === undefined && !warned.has(key)) {
          warned.add(key);
          const invocation = logs.current();
          invocation?.sink.emit(
            logs.WARN,
            `The ${key} variable is undefined in local development; it is set when your ` +
              'functions are deployed.',
          );
        }
        return value;
      },
      set(next) {
        value = next;
      },
    });
  }
  const deadline = options.deadline;
  context.getRemainingTime = function getRemainingTime() {
    // Milliseconds left before the execution limit ends this invocation (0 once past).
    return deadline ? Math.max(0, Math.floor(deadline - performance.now())) : 0;
  };
  context.getTwilioClient = function getTwilioClient(options) {
    return twilioClient(context.ACCOUNT_SID, context.AUTH_TOKEN, options, loadTwilio);
  };
  return context;
}

/** A client of the `twilio` package, or a TwilioClientError saying which credential is wrong. */
function twilioClient(sid, token, options, loadTwilio) {
  if (!sid) {
    throw new TwilioClientError(
      'Missing Account SID: add ACCOUNT_SID=AC... to your .env file, or deploy the ' +
        'service with credentials included.',
    );
  }
  if (!validSid(sid)) {
    throw new TwilioClientError(
      "Invalid Account SID: ACCOUNT_SID must be 'AC' followed by 32 characters; " +
        `found '${sid}'.`,
    );
  }
  if (!token) {
    throw new TwilioClientError(
      'Missing Auth Token: add AUTH_TOKEN=... to your .env file, or deploy the ' +
        'service with credentials included.',
    );
  }
  return loadTwilio()(sid, token, { lazyLoading: true, ...options });
}

function validSid(sid) {
  return typeof sid === 'string' && sid.startsWith('AC') && sid.length === 34;
}

function validCredentials(context) {
  const sid = context.ACCOUNT_SID;
  return validSid(sid) && Boolean(context.AUTH_TOKEN);
}

module.exports = { makeContext, twilioClient, validCredentials, TwilioClientError };
