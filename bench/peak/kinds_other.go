//go:build !amd64 || purego

package peak

func kinds() []Kind { return nil }
