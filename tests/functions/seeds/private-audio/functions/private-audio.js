// Load the fs module
const fs = require("fs");
exports.handler = (context, event, callback) => {
// Get the path to the Private Asset
const mp3Path = Runtime.getAssets()["/audio.mp3"].path;
// Read the file into the buffer and get its metadata
const buffer = fs.readFileSync(mp3Path);
const stat = fs.statSync(mp3Path);
// Create a new Response object
const response = new Twilio.Response();
// Send the audio file in the response
response.setBody(buffer);
response.appendHeader("Content-Type", "audio/mpeg");
response.appendHeader("Content-Length", stat.size);
return callback(null, response);
};
