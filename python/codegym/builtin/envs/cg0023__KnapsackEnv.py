import gymnasium
import ast
import json


def _require_int(value, name):
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"parameter '{name}' must be an integer")
    return value


class KnapsackEnv(gymnasium.Env):
    """Solve a 0/1 knapsack: choose a subset of the items, each used at most once, whose total
    weight is at most the capacity and whose total value is as large as possible. Observe shows the
    weights, values and capacity; run the DP with InitTable, ProcessItem and GetBestValue and
    submit the maximum total value as an integer with Done (0 if no item fits or there are no
    items)."""
    def __init__(self, env_str: str = None):
        super().__init__()
        self.OBSERVE = 0
        self.INIT_TABLE = 1
        self.PROCESS_ITEM = 2
        self.GET_BEST_VALUE = 3
        self.DONE = 4
        self.func_mapping = {
            "Observe": self.OBSERVE,
            "InitTable": self.INIT_TABLE,
            "ProcessItem": self.PROCESS_ITEM,
            "GetBestValue": self.GET_BEST_VALUE,
            "Done": self.DONE,
        }
        if env_str is not None:
            options = ast.literal_eval(env_str.split("@", 1)[1])
            self.reset(options)
        else:
            self.reset()

    @property
    def finished(self) -> bool:
        return self._done

    @property
    def reward(self):
        return float(self._reward)

    @staticmethod
    def from_env_str(env_str: str):
        prefix = "KnapsackEnv@"
        if not env_str.startswith(prefix):
            return None
        return KnapsackEnv(env_str=env_str)

    def reset(self, options: dict = {}):
        if options is None:
            options = {}
        self.weights = list(options.get("weights", []))
        self.values = list(options.get("values", []))
        self.capacity = options.get("capacity", 0)
        # table[c] = best total value with total weight <= c using the first
        # `processed` items; None until InitTable has been called
        self.table = None
        self.processed = 0
        self._reward = 0
        self._done = False
        self.step_count = 0
        return "Environment has been reset."

    def get_ref_answer(self):
        """The reference answer computed directly from the task data."""
        best = [0] * (self.capacity + 1)
        for w, v in zip(self.weights, self.values):
            for c in range(self.capacity, w - 1, -1):
                if best[c - w] + v > best[c]:
                    best[c] = best[c - w] + v
        return best[self.capacity]

    def step(self, action: str):
        self.step_count += 1
        try:
            try:
                call_dict = json.loads(action)
            except (TypeError, ValueError):
                raise ValueError("action is not a valid JSON string")
            if not isinstance(call_dict, dict):
                raise ValueError("action must be a JSON object")
            if "name" not in call_dict:
                raise ValueError("function call doesn't have `name`")
            if "parameters" not in call_dict:
                raise ValueError("function call doesn't have `parameters`")
            action_name = call_dict["name"]
            params = call_dict["parameters"]
            if not isinstance(action_name, str) or action_name not in self.func_mapping:
                raise ValueError(f"Invalid action: {action_name}")
            if not isinstance(params, dict):
                raise ValueError("`parameters` must be a JSON object")
            action_code = self.func_mapping[action_name]

            if action_code == self.OBSERVE:
                msg = self.Observe()
            elif action_code == self.INIT_TABLE:
                msg = self.InitTable()
            elif action_code == self.PROCESS_ITEM:
                if "i" in params:
                    msg = self.ProcessItem(params["i"])
                else:
                    msg = "Error: 'i' parameter is missing for ProcessItem action."
            elif action_code == self.GET_BEST_VALUE:
                if "capacity" in params:
                    msg = self.GetBestValue(params["capacity"])
                else:
                    msg = "Error: 'capacity' parameter is missing for GetBestValue action."
            elif action_code == self.DONE:
                if "answer" in params:
                    msg = self.Done(params["answer"])
                else:
                    msg = "Error: 'answer' parameter is missing for Done action."
            else:
                msg = f"Error: Invalid action: {action_name}"
        except Exception as e:
            msg = f"Error: {str(e)}"
        return True, msg

    # --- tools ---
    def Observe(self):
        r"""
        Return the 0/1 knapsack instance: item i has weight weights[i] and value values[i];
        each item can be taken at most once and the total weight must not exceed capacity.

        Returns:
            str: JSON object with keys "weights", "values" and "capacity".

        Example Output:
            "{\"weights\": [1, 3, 4, 5], \"values\": [1, 4, 5, 7], \"capacity\": 7}"
        """
        return json.dumps({"weights": self.weights, "values": self.values, "capacity": self.capacity})

    def InitTable(self):
        r"""
        Start (or restart) the DP over items: with no item processed yet, the best value
        for every capacity 0..capacity is 0.

        Returns:
            str: JSON of the table, one best value per capacity 0..capacity.

        Example Output:
            "[0, 0, 0, 0, 0, 0, 0, 0]"
        """
        self.table = [0] * (self.capacity + 1)
        self.processed = 0
        return json.dumps(self.table)

    def ProcessItem(self, i):
        r"""
        Add item i to the DP: for every capacity c >= weights[i],
        best[c] = max(best[c], best_before[c - weights[i]] + values[i]), where best_before is
        the table before this item (so the item is used at most once). Items must be
        processed in order 0, 1, 2, ... after InitTable.

        Args:
            i (int): item index; must equal the number of items processed so far.

        Returns:
            str: JSON of the updated table, one best value per capacity 0..capacity.

        Example Output:
            "[0, 1, 1, 4, 5, 5, 5, 5]"
        """
        i = _require_int(i, "i")
        if self.table is None:
            raise ValueError("call InitTable before processing items")
        if i < 0 or i >= len(self.weights):
            raise ValueError(f"item index {i} out of range 0..{len(self.weights) - 1}")
        if i != self.processed:
            raise ValueError(f"items must be processed in order; next item is {self.processed}")
        w, v = self.weights[i], self.values[i]
        before = self.table
        after = list(before)
        for c in range(w, self.capacity + 1):
            if before[c - w] + v > after[c]:
                after[c] = before[c - w] + v
        self.table = after
        self.processed += 1
        return json.dumps(after)

    def GetBestValue(self, capacity):
        r"""
        Read the best total value reachable with total weight <= capacity using only the
        items processed so far.

        Args:
            capacity (int): a capacity, 0..capacity of the knapsack.

        Returns:
            str: JSON object with the value and the number of items processed so far.

        Example Output:
            "{\"capacity\": 7, \"best_value\": 9, \"items_processed\": 4}"
        """
        capacity = _require_int(capacity, "capacity")
        if self.table is None:
            raise ValueError("call InitTable first")
        if capacity < 0 or capacity > self.capacity:
            raise ValueError(f"capacity {capacity} out of range 0..{self.capacity}")
        return json.dumps(
            {"capacity": capacity, "best_value": self.table[capacity], "items_processed": self.processed}
        )

    def Done(self, answer):
        r"""
        Submit the final answer and end the episode.

        Args:
            answer (int): the maximum total value that fits in the knapsack.

        Returns:
            str: whether the answer is correct, with the reference answer.

        Example Output:
            "Your answer: 9, reference answer: 9, result: correct, reward=1"
        """
        answer = _require_int(answer, "answer")
        ref_answer = self.get_ref_answer()
        correct = answer == ref_answer
        self._reward = 1 if correct else 0
        self._done = True
        msg = f"Your answer: {answer}, reference answer: {ref_answer}"
        return msg + f", result: {'correct' if correct else 'incorrect'}, reward={self._reward}"

    def solve(self):
        r"""Solve the task using only the tools (through self.step with JSON actions) and submit."""
        task = json.loads(self.step(json.dumps({"name": "Observe", "parameters": {}}))[1])
        self.step(json.dumps({"name": "InitTable", "parameters": {}}))
        for i in range(len(task["weights"])):
            self.step(json.dumps({"name": "ProcessItem", "parameters": {"i": i}}))
        result = json.loads(self.step(json.dumps(
            {"name": "GetBestValue", "parameters": {"capacity": task["capacity"]}}
        ))[1])
        return self.step(json.dumps({"name": "Done", "parameters": {"answer": result["best_value"]}}))[1]


if __name__ == "__main__":
    env = KnapsackEnv.from_env_str(
        'KnapsackEnv@{"weights": [1, 3, 4, 5], "values": [1, 4, 5, 7], "capacity": 7}'
    )
    print(env.solve())
    print("step count:", env.step_count)
    env = KnapsackEnv.from_env_str('KnapsackEnv@{"weights": [5, 6], "values": [10, 12], "capacity": 4}')
    print(env.solve())
    print("step count:", env.step_count)
