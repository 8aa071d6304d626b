// ?tag=T answers at once and logs a line once ?release=T is called (a later invocation).
const gates = {};

function gate(tag) {
  if (!gates[tag]) {
    let open;
    gates[tag] = { opened: new Promise((resolve) => (open = resolve)), open };
  }
  return gates[tag];
}

exports.handler = (context, event, callback) => {
  if (event.release !== undefined) {
    gate(event.release).open();
    return callback(null, 'released');
  }
  callback(null, 'done');
  gate(event.tag).opened.then(() => console.log('printed after the result'));
};
