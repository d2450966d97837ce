package accounts

import (
	"crypto/subtle"
	"strings"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"github.com/gatehouse/gatehouse/tenants"
)

// TOTP follows RFC 6238 with the parameters every authenticator app
// supports: SHA-1, 6 digits, 30 s steps; one step of clock skew either way.
var totpOpts = totp.ValidateOpts{Period: 30, Skew: 0, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1}

const totpSkew = 1

// newTOTPKey makes a secret for the account and its otpauth:// URL (the QR
// code content; Key URI Format of Google Authenticator).
func newTOTPKey(issuer, email string) (secret, uri string, err error) {
	k, err := totp.Generate(totp.GenerateOpts{Issuer: issuer, AccountName: email, Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		return "", "", err
	}
	return k.Secret(), k.URL(), nil
}

// totpStep returns the time step a code belongs to (within ±1 step of now),
// or 0 when it matches none. Callers then refuse a step already used
// (RFC 6238 §5.2: a verifier must not accept the same OTP twice).
func totpStep(secret, code string, now time.Time) int64 {
	code = strings.ReplaceAll(strings.TrimSpace(code), " ", "")
	if len(code) != 6 {
		return 0
	}
	cur := now.Unix() / 30
	for d := -totpSkew; d <= totpSkew; d++ {
		step := cur + int64(d)
		want, err := totp.GenerateCodeCustom(secret, time.Unix(step*30, 0), totpOpts)
		if err == nil && subtle.ConstantTimeCompare([]byte(want), []byte(code)) == 1 {
			return step
		}
	}
	return 0
}

// recoveryCodeCount is how many single-use recovery codes an account gets.
const recoveryCodeCount = 10

// newRecoveryCodes returns codes to show once and their hashes to store.
func newRecoveryCodes() (codes []string, hashes tenants.Strings) {
	for range recoveryCodeCount {
		raw := strings.ToLower(tenants.RandomID()[:10])
		c := raw[:5] + "-" + raw[5:]
		codes = append(codes, c)
		hashes = append(hashes, hashRecovery(c))
	}
	return codes, hashes
}

func hashRecovery(code string) string {
	return tenants.HashSecret(strings.ToLower(strings.ReplaceAll(strings.TrimSpace(code), " ", "")))
}
