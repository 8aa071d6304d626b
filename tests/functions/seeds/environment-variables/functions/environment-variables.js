exports.handler = (context, event, callback) => {
// Get the primary and secondary phone numbers, if set
const primary = context.PRIMARY_PHONE_NUMBER || "There is no primary number";
const secondary =
  context.SECONDARY_PHONE_NUMBER || "There is no secondary number!";
// Build our response object
const response = {
  phone_numbers: {
    primary,
    backup: secondary,
  },
};
// Return the response object as JSON
return callback(null, response);
};
