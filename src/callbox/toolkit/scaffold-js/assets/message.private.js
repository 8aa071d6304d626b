// A private asset: not routable, loaded by functions/private-message.js with require().
const privateMessage = () => {
  return 'This is private!';
};

module.exports = privateMessage;
