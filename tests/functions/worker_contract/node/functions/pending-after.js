// Work started right after callback() never runs.
exports.handler = (context, event, callback) => {
  callback(null, 'called back');
  setTimeout(() => console.log('LEAK after'), 50);
};
