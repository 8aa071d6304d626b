exports.handler = (context, event, callback) => {
// Access the `Authorization` header via dot notation
const authHeader = event.request.headers.authorization; 
console.log(authHeader); // '123abc'
// Access the `Authorization` header via bracket notation
const alsoTheAuthHeader = event.request.headers['authorization']; 
console.log(alsoTheAuthHeader); // '123abc'
// Access headers that include hyphens and other non-alphanumeric
// characters with bracket notation
const contentType = event.request.headers['content-type']; 
console.log(contentType); // 'application/json'
return callback();
}
