package accounts

import "strings"

// common holds passwords (lower case, trailing digits and symbols removed)
// that top every published breach corpus (e.g. the NCSC "100k most common"
// list and SecLists' top lists). Checking a password against breached
// values is NIST SP 800-63B §3.1.1.2's requirement; this short list catches
// the ones attackers try first, without a network lookup.
var common = func() map[string]bool {
	m := map[string]bool{}
	for _, w := range strings.Fields(commonList) {
		m[w] = true
	}
	return m
}()

const commonList = `
password passw0rd p@ssw0rd p@ssword password1 passwords passwort motdepasse contraseña
123456 1234567 12345678 123456789 1234567890 12345678910 0987654321 987654321
qwerty qwertyuiop qwerty123 azerty asdfgh asdfghjkl zxcvbnm 1q2w3e4r 1q2w3e4r5t 1qaz2wsx
iloveyou letmein welcome welcome1 admin administrator root toor master changeme
trustno1 dragon monkey football baseball basketball soccer hockey superman batman
sunshine princess shadow michael jennifer jordan hunter hunter2 freedom whatever
starwars pokemon computer internet secret secret123 access login default guest
abc123 abcdef abcdefgh abcdefghij aaaaaa 111111 000000 121212 654321 666666 696969
charlie donald daniel thomas andrew jessica ashley nicole liverpool chelsea arsenal
summer winter spring autumn mustang harley ferrari corvette cheese chocolate cookie
killer pepper ginger banana orange purple yellow silver golden diamond maggie buster
loveme lovely loveyou iloveu fuckyou fuckoff qazwsx zaq12wsx q1w2e3r4 q1w2e3r4t5
samsung google apple microsoft linux windows ubuntu oracle mysql postgres database
company business office server service network security letmein1 welcome123
`
