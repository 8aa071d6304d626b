exports.handler = (context, event, callback) => {
// A custom delay value could be passed to the Function, either via
// request parameters or by the Run Function Widget
// Default to a 5-second delay
const delay = event.delay || 5000;
// Set a timer for the specified number of ms. Once the delay has passed,
// return a success message, TwiML, or any other content to whatever
// invoked this Function.
setTimeout(() => callback(null, `Timer Up: ${delay}ms`), delay);
};
