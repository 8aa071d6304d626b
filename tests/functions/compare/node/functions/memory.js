exports.handler = () => {
  const hoard = [];
  for (;;) hoard.push(new Array(1024 * 1024).fill(hoard.length)); // far past the limit
};
