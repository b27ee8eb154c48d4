// Package demo seeds a dataset of the built-in gcrm contract with believable
// sample data: trading accounts, contacts, commodities and sales orders with
// their lines. The data is deterministic per seed.
package demo

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/beevik/etree"
)

// Sizes says how many resources of each kind to create.
type Sizes struct {
	TradingAccounts, Contacts, Commodities, SalesOrders int
}

// DefaultSizes returns the sizes `serve --demo` uses.
func DefaultSizes() Sizes {
	return Sizes{TradingAccounts: 60, Contacts: 180, Commodities: 45, SalesOrders: 36}
}

// Creator creates a resource of kind (plural name) from a payload element and
// returns its key. It is the provider's normal local write path, so demo data
// is validated, ticked and visible to sync like any other write.
type Creator func(ctx context.Context, kind string, payload *etree.Element) (key string, err error)

var (
	companyWords = []string{"Abbey", "Northwind", "Harbour", "Granite", "Meadow", "Summit", "Riverside", "Oakfield", "Copper", "Lakeside",
		"Beacon", "Kestrel", "Juniper", "Pioneer", "Silverline", "Westgate", "Redwood", "Bluebell", "Ironbridge", "Foxglove"}
	companyTrades = []string{"Kitchens", "Logistics", "Foods", "Engineering", "Textiles", "Builders", "Pharma", "Motors", "Print", "Outdoor",
		"Electrics", "Interiors", "Farms", "Software", "Plastics"}
	companySuffix = []string{"Ltd", "plc", "GmbH", "SARL", "Inc.", "& Co.", "BV"}
	firstNames    = []string{"Alice", "Ben", "Chloe", "Daniel", "Emma", "Farid", "Grace", "Hugo", "Isla", "Jonas", "Keira", "Liam",
		"Maya", "Noah", "Olivia", "Pablo", "Quinn", "Ruth", "Samir", "Tess", "Umar", "Vera", "Will", "Yara", "Zoe"}
	familyNames = []string{"Adams", "Baker", "Clarke", "Dubois", "Evans", "Fischer", "Garcia", "Hughes", "Ivanova", "Jensen", "Khan",
		"Lopez", "Martin", "Nowak", "O'Brien", "Patel", "Rossi", "Schmidt", "Taylor", "Walsh"}
	jobTitles = []string{"Purchasing Manager", "Finance Director", "Office Manager", "Buyer", "Managing Director", "Accounts Payable", "Operations Lead"}
	products  = []string{"Oak worktop 3m", "Stainless sink", "LED downlight", "Copper pipe 15mm", "Ceramic tile box", "Cordless drill", "Safety gloves",
		"Paint 5L white", "Hinge set", "Cabinet handle", "Extractor fan", "Mixer tap", "Laminate pack", "Wall cabinet", "Base unit",
		"Installation service", "Design consultation", "Delivery charge", "Spirit level", "Plaster 25kg"}
	currencies = []string{"GBP", "EUR", "USD"}
)

type gen struct {
	r  *rand.Rand
	ns string
}

func (g *gen) pick(s []string) string { return s[g.r.IntN(len(s))] }

func (g *gen) root(name string) *etree.Element {
	el := etree.NewElement(name)
	el.CreateAttr("xmlns", g.ns)
	el.CreateAttr("xmlns:sdata", "http://schemas.sage.com/sdata/2008/1")
	return el
}

func set(el *etree.Element, name, value string) { el.CreateElement(name).SetText(value) }

func money(v float64) string { return strconv.FormatFloat(v, 'f', 2, 64) }

func (g *gen) date(from time.Time, days int) string {
	return from.AddDate(0, 0, g.r.IntN(days)).Format("2006-01-02")
}

// Seed creates the demo data through create. namespace is the contract's
// target namespace; seed makes the data differ between datasets.
func Seed(ctx context.Context, namespace string, seed uint64, sz Sizes, create Creator) error {
	g := &gen{r: rand.New(rand.NewPCG(seed, seed^0x5eed)), ns: namespace}
	base := time.Date(2019, 1, 1, 0, 0, 0, 0, time.UTC)

	accounts := make([]string, 0, sz.TradingAccounts)
	for i := 0; i < sz.TradingAccounts; i++ {
		el := g.root("tradingAccount")
		name := fmt.Sprintf("%s %s %s", g.pick(companyWords), g.pick(companyTrades), g.pick(companySuffix))
		set(el, "active", strconv.FormatBool(g.r.IntN(10) > 0))
		set(el, "customerSupplierFlag", g.pick([]string{"Customer", "Customer", "Customer", "Supplier", "Both"}))
		set(el, "companyPersonFlag", "Company")
		set(el, "openedDate", g.date(base, 2000))
		set(el, "reference", fmt.Sprintf("ACC%04d", i+1))
		set(el, "name", name)
		set(el, "type", g.pick([]string{"On Account", "On Account", "Direct Sales/Cash"}))
		set(el, "currency", g.pick(currencies))
		set(el, "financeBalance", money(g.r.Float64()*20000))
		set(el, "financeLimit", money(float64(5+g.r.IntN(20))*1000))
		key, err := create(ctx, "tradingAccounts", el)
		if err != nil {
			return fmt.Errorf("demo trading account %d: %w", i+1, err)
		}
		accounts = append(accounts, key)
	}

	for i := 0; i < sz.Contacts; i++ {
		el := g.root("contact")
		first, family := g.pick(firstNames), g.pick(familyNames)
		set(el, "active", "true")
		set(el, "reference", fmt.Sprintf("CON%05d", i+1))
		set(el, "gender", g.pick([]string{"Male", "Female", "Not Specified"}))
		set(el, "fullName", first+" "+family)
		set(el, "firstName", first)
		set(el, "familyName", family)
		set(el, "dateOfBirth", g.date(base.AddDate(-60, 0, 0), 40*365))
		if len(accounts) > 0 {
			ref := el.CreateElement("tradingAccount")
			ref.CreateAttr("sdata:key", accounts[g.r.IntN(len(accounts))])
		}
		set(el, "jobTitle", g.pick(jobTitles))
		set(el, "primacyIndicator", strconv.FormatBool(g.r.IntN(3) == 0))
		if _, err := create(ctx, "contacts", el); err != nil {
			return fmt.Errorf("demo contact %d: %w", i+1, err)
		}
	}

	type commodity struct {
		key, name string
		price     float64
	}
	commodities := make([]commodity, 0, sz.Commodities)
	for i := 0; i < sz.Commodities; i++ {
		el := g.root("commodity")
		name := products[i%len(products)]
		if i >= len(products) {
			name += fmt.Sprintf(" (grade %c)", 'A'+rune(i/len(products)-1))
		}
		cost := 2 + g.r.Float64()*300
		set(el, "active", "true")
		set(el, "reference", fmt.Sprintf("SKU-%05d", 1000+i))
		set(el, "name", name)
		set(el, "description", name+", trade quality")
		set(el, "type", g.pick([]string{"Product Stock", "Product Stock", "Product Non Stock", "Service"}))
		set(el, "catalogueNumber", fmt.Sprintf("CAT-%03d-%02d", i/10, i%10))
		set(el, "weight", money(0.1+g.r.Float64()*25))
		set(el, "cost", money(cost))
		key, err := create(ctx, "commodities", el)
		if err != nil {
			return fmt.Errorf("demo commodity %d: %w", i+1, err)
		}
		commodities = append(commodities, commodity{key: key, name: name, price: cost * 1.35})
	}

	for i := 0; i < sz.SalesOrders; i++ {
		el := g.root("salesOrder")
		set(el, "active", "true")
		set(el, "reference", fmt.Sprintf("SO%06d", 5000+i))
		set(el, "status", g.pick([]string{"Entered", "Ordered/Confirmed", "Delivered", "Invoiced"}))
		if len(accounts) > 0 {
			ref := el.CreateElement("tradingAccount")
			ref.CreateAttr("sdata:key", accounts[g.r.IntN(len(accounts))])
		}
		set(el, "customerReference", fmt.Sprintf("PO-%d", 10000+g.r.IntN(90000)))
		set(el, "currency", g.pick(currencies))
		set(el, "date", g.date(base.AddDate(5, 0, 0), 600))
		lines := el.CreateElement("salesOrderLines")
		n := 1 + g.r.IntN(5)
		var net float64
		for l := 0; l < n && len(commodities) > 0; l++ {
			c := commodities[g.r.IntN(len(commodities))]
			qty := float64(1 + g.r.IntN(12))
			line := lines.CreateElement("salesOrderLine")
			set(line, "number", strconv.Itoa(l+1))
			set(line, "type", "Standard Line")
			ref := line.CreateElement("commodity")
			ref.CreateAttr("sdata:key", c.key)
			set(line, "text", c.name)
			set(line, "quantity", money(qty))
			set(line, "initialPrice", money(c.price))
			set(line, "actualPrice", money(c.price))
			set(line, "netTotal", money(qty*c.price))
			net += qty * c.price
		}
		set(el, "lineCount", strconv.Itoa(n))
		set(el, "netTotal", money(net))
		set(el, "discountTotal", "0.00")
		set(el, "taxTotal", money(net*0.2))
		set(el, "grossTotal", money(net*1.2))
		if _, err := create(ctx, "salesOrders", el); err != nil {
			return fmt.Errorf("demo sales order %d: %w", i+1, err)
		}
	}
	return nil
}
