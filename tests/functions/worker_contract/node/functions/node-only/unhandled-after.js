exports.handler = (context, event, callback) => {
  callback(null, 'answered');
  Promise.reject(new Error('rejected after the callback'));
};
