// Runs Vonage's Node SDK verifier over a batch of tokens.
// Reads a JSON array of {"token", "secret"} on stdin; writes a JSON array of verdicts:
// "accept", "reject" (verifySignature returned false) or "error" (it threw).
const { verifySignature } = require('@vonage/jwt');

let input = '';
process.stdin.on('data', (chunk) => { input += chunk; });
process.stdin.on('end', () => {
  const verdicts = JSON.parse(input).map(({ token, secret }) => {
    try {
      return verifySignature(token, secret) ? 'accept' : 'reject';
    } catch (error) {
      return 'error';
    }
  });
  process.stdout.write(JSON.stringify(verdicts));
});
