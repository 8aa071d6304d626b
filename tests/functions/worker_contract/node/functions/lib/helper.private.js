// A private helper: not routable, loaded by other functions through Runtime.
exports.shout = (text) => `${text.toUpperCase()}!`;
