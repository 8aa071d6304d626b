class SyncFailure extends Error {}
SyncFailure.prototype.name = 'SyncFailure';

exports.handler = () => {
  throw new SyncFailure('sync failure');
};
