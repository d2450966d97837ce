package idp

// Test helpers of package idp that the external tests (package idp_test)
// share: the callback URL the providers are configured with, the browser at
// an upstream authorize endpoint, and a URL's query.
const TestRedirect = testRedirect

var (
	Browse    = browse
	MustQuery = mustQuery
)
