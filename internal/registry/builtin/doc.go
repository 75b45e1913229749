// Package builtin assembles every resource svcnet serves, in the order
// discovery lists them, with the Table printer of each kind attached.
package builtin
