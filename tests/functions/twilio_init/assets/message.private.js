const privateMessage = () => {
  return 'This is private!';
};

module.exports = privateMessage;
