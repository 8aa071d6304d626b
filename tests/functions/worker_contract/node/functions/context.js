exports.handler = (context, event, callback) =>
  callback(null, {
    DOMAIN_NAME: context.DOMAIN_NAME,
    PATH: context.PATH,
    GREETING: context.GREETING,
    // Unset is undefined in JavaScript, which JSON leaves out; null says "unset" in both.
    SERVICE_SID: context.SERVICE_SID ?? null,
    ENVIRONMENT_SID: context.ENVIRONMENT_SID ?? null,
  });
