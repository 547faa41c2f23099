package engine

import "container/list"

// lru caches text embeddings by prompt; not safe for concurrent use (the
// engine holds its mutex).
type lru struct {
	max   int
	order *list.List
	items map[string]*list.Element
}

type lruItem struct {
	key string
	val []float32
}

func newLRU(max int) *lru {
	return &lru{max: max, order: list.New(), items: map[string]*list.Element{}}
}

func (c *lru) get(k string) ([]float32, bool) {
	el, ok := c.items[k]
	if !ok {
		return nil, false
	}
	c.order.MoveToFront(el)
	return el.Value.(*lruItem).val, true
}

func (c *lru) put(k string, v []float32) {
	if el, ok := c.items[k]; ok {
		el.Value.(*lruItem).val = v
		c.order.MoveToFront(el)
		return
	}
	c.items[k] = c.order.PushFront(&lruItem{k, v})
	for c.order.Len() > c.max {
		last := c.order.Back()
		c.order.Remove(last)
		delete(c.items, last.Value.(*lruItem).key)
	}
}
