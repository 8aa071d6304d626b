class BadValue extends Error {
  constructor(message) {
    super(message);
    this.name = 'BadValue';
  }
}

exports.handler = () => {
  throw new BadValue('boom');
};
