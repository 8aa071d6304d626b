require('callbox_no_such_module_xyz');

exports.handler = (context, event, callback) => callback(null, 'never reached');
