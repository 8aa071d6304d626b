exports.handler = (context, event, callback) => {
  const greeting = `Hello, ${event.name || 'there'}!`;
  return callback(null, greeting); // BREAK HERE
};
