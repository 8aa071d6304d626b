exports.handler = (context, event, callback) => {
  const assets = Runtime.getAssets();
  const data = JSON.parse(assets['/data.json'].open());
  return callback(null, { keys: Object.keys(assets).sort(), data });
};
