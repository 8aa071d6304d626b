exports.handler = (context, event, callback) => {
  setTimeout(() => callback(null, 'awake'), Number(event.seconds || '5') * 1000);
};
