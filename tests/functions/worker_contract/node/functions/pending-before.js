// Work started before callback() is cut off when the callback comes.
exports.handler = (context, event, callback) => {
  setTimeout(() => console.log('LEAK before'), 200);
  return callback(null, 'called back');
};
